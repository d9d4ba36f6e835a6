//! The pure decision logic of the InfraKit group controller (work in progress).
