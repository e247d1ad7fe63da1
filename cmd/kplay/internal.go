package main

// internal runs the processes kplay starts from its own binary (the pause infra
// process, the log writer, OCI hooks) before any command parsing. It reports
// whether it handled the invocation.
func internal(args []string) bool {
	return false
}
