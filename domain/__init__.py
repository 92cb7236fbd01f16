"""Pure domain modules: no frameworks, no I/O, time passed in."""
