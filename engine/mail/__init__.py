"""Mail: reading what users write to the desk, and threading what it writes back.

- ``parse``: one RFC 5322 message (stdlib ``email``, ``policy.default``) into an
  :class:`~engine.mail.parse.Inbound`: sender, threading headers, the text
  (charsets such as GB2312/GBK/GB18030, RFC 2047 subjects, HTML-only mail as
  text), the reply without its quoted part, attachments, and what kind of mail
  it is (a person's, an auto-reply, an out-of-office, a bounce);
- ``thread``: the subject tag ``[INC-000123]``, our Message-IDs and the
  headers that thread outgoing mail;
- ``imap``: fetching from IMAP mailboxes (stdlib ``imaplib``), each message
  marked done only after the caller's transaction committed.

Nothing here writes to the desk: engine.desk.mailgate decides what a message does.

May import: ground.
"""
