"""Heard, visibly: the summary taken when a review closes, and the "You said, we did" record of the next revision."""
