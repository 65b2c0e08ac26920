//! `client`: the tab's connection to the server, the one WebSocket
//! (`socket`). It reads `state` and hands it every frame; `state` never
//! reaches back into it (outgoing frames go through `browser::outbound`).

pub mod socket;
