//! web (scaffold; see ARCHITECTURE.md)
