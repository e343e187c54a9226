//! Emulated appliances for tests, `vnfsync demo` and operators' rehearsals (`vnfsync lab`).
//!
//! Owns: faithful emulators built from `../shared/reference/`, as peers of the real devices (not
//! mocks): the VyOS emulator in [`vyos`]. Must not be used by the daemon's own code paths except
//! through the same network protocols a real appliance speaks.

pub mod vyos;
