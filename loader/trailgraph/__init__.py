"""trailgraph: who really did this? Follow CloudTrail actions back to their human origin."""
