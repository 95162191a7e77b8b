"""Process security: credentials (user, groups, capabilities, rlimits, LSMs) and seccomp."""
