//! catalog (scaffold; see ARCHITECTURE.md)
