"""The judge lab, judging the judges: validations against gold labels (a panel's too), distilling a judge from a
teacher's labels (the scoring student and its generative rival), the trust line beside every verdict, and the
`python -m judge validate` and `distill` commands. It sits above runs/, whose runs it reads."""
