//! Workforce planning inside the switch: how many agents a queue needs
//! for its service-level target, from the calls it is offered and how long
//! they take (Erlang C). Pure functions: no clock, no I/O.

pub mod erlang;
