"""Rubric judging of model answers: templates, strict reply parsing, single and pairwise judging, saved runs."""
