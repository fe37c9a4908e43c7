"""Real OpenSSH sshd fixture (owned by the SFTP work; placeholder until it lands)."""
