"""Running conversations: load the step, decide (flow selection + interpreter), apply its effects."""
