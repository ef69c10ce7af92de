package client

// PendingRequests is how many of c's requests wait for a reply (tests only).
func PendingRequests(c *Client) int { return c.e.PendingRequests() }
