"""The library API: one module per verb. Each loads the container, checks its status, acts."""
