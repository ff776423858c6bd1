//! Event generation (being written).
