"""A person's own data and leaving the council: above every other feature, since it reads them all."""
