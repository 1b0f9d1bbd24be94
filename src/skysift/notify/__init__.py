"""Email: daily digests of email filters, run-failure notices, and filter expiry.

- :mod:`skysift.notify.mail`: sending a message, by SMTP (``smtp_host`` set) or as an ``.eml``
  file in the data directory's maildir (the embedded default).
- :mod:`skysift.notify.digest`: matches of email filters wait in ``email_pending``; a digest is
  built from them (text and HTML, JSON attachment, each object linked to its page).
- :mod:`skysift.notify.service`: :class:`Notifier` decides what is due, with an injectable clock:
  at most one digest per filter per ``email_min_interval_s`` (the first at once), at most one
  failure notice per failing filter per ``email_min_interval_s``, a warning
  ``filter_expiry_warning_days`` before an active filter expires, and the expiry itself
  (the filter is deactivated and its owner told).

See docs/email.md.
"""

from skysift.notify.service import Notifier, NotifyReport

__all__ = ["Notifier", "NotifyReport"]
