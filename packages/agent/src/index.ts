/** The Otter device agent: library API (`createAgent`) and the pieces it is built from. */
export {};
