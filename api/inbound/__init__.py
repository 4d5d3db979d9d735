"""Receiving from WhatsApp: the webhook route, storing inbound messages, applying status updates."""
