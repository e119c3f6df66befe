"""An organisation simulator that writes CloudTrail with known ground truth."""
