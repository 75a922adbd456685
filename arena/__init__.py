"""The arena: blind battles between pooled models, people's votes kept in an append-only store, and a leaderboard
that sets the crowd's Bradley-Terry ratings beside the judge's on the same battles."""
