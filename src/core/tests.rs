//! Unit and property tests of the decision core, in virtual time.
