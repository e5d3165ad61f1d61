//! smolvlm (scaffold; see ARCHITECTURE.md)
