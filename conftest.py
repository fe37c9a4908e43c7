"""Root conftest: registers the fixture plugins under tests/plugins/."""

pytest_plugins = ["tests.plugins.services", "tests.plugins.databases", "tests.plugins.sshd"]
