package server

// PendingRequests is how many of s's requests wait for a reply (tests only).
func PendingRequests(s *Server) int { return s.e.PendingRequests() }
