"""The demo: the whole workflow on realistic synthetic cases, run as the commands a user types.

    python -m brats_rev.demo [--output_dir=runs/demo] [--size=full|quick]

`workflow` holds the stages as one table of command lines, their sizes and output layout;
`report` writes report.md and its figures from a finished run; `__main__` is the program.
"""
