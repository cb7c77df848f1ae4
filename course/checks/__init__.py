"""The notebooks' self-checks, one module per notebook: `from course.checks import nb03 as ex`."""
