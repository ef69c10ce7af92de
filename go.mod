module github.com/socketipc/socketipc

go 1.24.0

require (
	github.com/cenkalti/backoff/v4 v4.3.0
	github.com/google/uuid v1.6.0
	github.com/stretchr/testify v1.12.1
	golang.org/x/sys v0.40.0
)

require go.yaml.in/yaml/v3 v3.0.5 // indirect
