//! Events CSV loading (being written).
