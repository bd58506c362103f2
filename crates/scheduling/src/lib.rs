//! User scheduling: PF zero-forcing greedy (Algorithm 1), Hungarian, all users
