"""Taskiq workers: the broker, the tasks and an in-process worker for embedded mode."""
