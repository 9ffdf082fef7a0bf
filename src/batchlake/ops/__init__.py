"""Operations: table maintenance, health checks (doctor, storage checks) and monitoring."""
