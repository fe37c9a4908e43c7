"""Telling the operators (SPEC §7 "Watched"): a failed run or a failed check of any study,
sent by e-mail over SMTP and/or to a webhook, as configured by environment variables:

* ``PIPELINE_ALERT_WEBHOOK_URL``: a URL that receives a JSON POST (``{"subject", "text",
  "study", "run_id"}``; Slack-style incoming webhooks read ``text``);
* ``PIPELINE_ALERT_SMTP_HOST`` (with ``PIPELINE_ALERT_SMTP_PORT``, default 25),
  ``PIPELINE_ALERT_EMAIL_TO`` (comma-separated) and ``PIPELINE_ALERT_EMAIL_FROM``.

With neither set, nothing is sent. Messages carry the run's one-line error and names only:
the pipeline's errors never quote respondents' data (SPEC §6).
"""

from __future__ import annotations

import json
import os
import smtplib
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage

import tenacity

TIMEOUT = 10  # seconds per attempt


@dataclass(frozen=True)
class Alert:
    """One notification: what happened, to which study, in which run."""

    subject: str
    text: str
    study: str = ""
    run_id: str = ""


@dataclass(frozen=True)
class Channels:
    """Where alerts go (from the environment, see the module docstring)."""

    webhook_url: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 25
    email_to: tuple[str, ...] = ()
    email_from: str = "survey-pipeline@localhost"

    @classmethod
    def from_env(cls) -> Channels:
        env = os.environ
        to = tuple(
            a.strip() for a in env.get("PIPELINE_ALERT_EMAIL_TO", "").split(",") if a.strip()
        )
        return cls(
            webhook_url=env.get("PIPELINE_ALERT_WEBHOOK_URL") or None,
            smtp_host=env.get("PIPELINE_ALERT_SMTP_HOST") or None,
            smtp_port=int(env.get("PIPELINE_ALERT_SMTP_PORT") or 25),
            email_to=to,
            email_from=env.get("PIPELINE_ALERT_EMAIL_FROM") or cls.email_from,
        )

    @property
    def configured(self) -> bool:
        return bool(self.webhook_url or (self.smtp_host and self.email_to))


_retry = tenacity.retry(
    stop=tenacity.stop_after_attempt(3),
    wait=tenacity.wait_exponential(multiplier=1, max=10),
    retry=tenacity.retry_if_exception_type(OSError),
    reraise=True,
)


@_retry
def post_webhook(url: str, alert: Alert) -> None:
    """POST the alert as JSON to ``url``."""
    body = json.dumps({"subject": alert.subject, "text": f"{alert.subject}\n{alert.text}",
                       "study": alert.study, "run_id": alert.run_id}).encode()  # fmt: skip
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 - the operator's URL
        response.read()


@_retry
def send_email(channels: Channels, alert: Alert) -> None:
    """Send the alert by e-mail through the configured SMTP server."""
    msg = EmailMessage()
    msg["Subject"] = alert.subject
    msg["From"] = channels.email_from
    msg["To"] = ", ".join(channels.email_to)
    msg.set_content(alert.text)
    with smtplib.SMTP(channels.smtp_host or "", channels.smtp_port, timeout=TIMEOUT) as smtp:
        smtp.send_message(msg)


def notify(alert: Alert, channels: Channels | None = None) -> list[str]:
    """Send ``alert`` on every configured channel; returns the channels used."""
    channels = channels or Channels.from_env()
    sent = []
    if channels.webhook_url:
        post_webhook(channels.webhook_url, alert)
        sent.append("webhook")
    if channels.smtp_host and channels.email_to:
        send_email(channels, alert)
        sent.append("email")
    return sent
