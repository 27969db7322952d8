"""Keys and code hashing: the key provider and wrapping-key protocols (:mod:`.keys`), which
key serves which purpose (:mod:`.key_purposes`), argon2id behind a protocol with its
profiles (:mod:`.hashing`), and the measurement that proposes a profile for this machine
(:mod:`.calibrate`). Keys are injected; nothing here reads a key from the environment.
"""
