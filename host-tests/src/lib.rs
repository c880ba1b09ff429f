//! Shared helpers of the host tests: the independent f64 reference lives here.
