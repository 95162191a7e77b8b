"""The container's terminal (process.terminal): the pty, its hand-off over the console socket,
and the foreground proxy of `run -t` / `exec -t`.

- pty.py: allocate a pty pair from the devpts mounted at /dev/pts (the container's, once
  called after pivot_root or setns into its mount namespace); window sizes.
- handoff.py: the console socket protocol callers expect (runc's): one sendmsg whose data
  is the pty name and whose ancillary data is exactly one SCM_RIGHTS fd, the master.
- setup.py: what the container process does: pty, /dev/console, stdio, controlling tty.
- proxy.py: the runtime side of a foreground terminal: copy between the master and the
  runtime's own stdio, with the caller's window size.

Every module here is imported before pivot_root / setns(mnt) (the runtime's files are not
reachable afterwards), so they import everything they use at the top.
"""
