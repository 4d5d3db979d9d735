"""Process hosting: the serve/worker stacks, connection balancing, the demo seed (used by the CLI)."""
