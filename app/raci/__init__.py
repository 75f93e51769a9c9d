"""RACI matrix of an initiative: activities (rows), roles (columns), letters R, A, C, I per cell."""
