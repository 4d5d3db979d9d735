"""WhatsApp message templates: their life cycle with Meta (submit, review webhooks, sync, delete) and the checks before a template is sent (docs/templates.md)."""
