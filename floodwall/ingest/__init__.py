"""Stage ingest: sources turn the outside world (files, stdin, SMTP) into raw records."""
