package takeover

// coverage returns how many addresses each node holds.
func (s *state) coverage() []int {
	c := make([]int, s.n)
	for _, p := range s.pnn {
		if p >= 0 {
			c[p]++
		}
	}
	return c
}

// findTakeoverNode gives address i to the node that may take it over and holds the
// fewest addresses (lowest PNN on ties), counting i where it is now; count is kept up to
// date. It reports false, leaving i alone, when no node may take it.
func (s *state) findTakeoverNode(i int, count []int) bool {
	best, min := -1, 0
	for node := range s.n {
		if !s.canTakeover(i, node) {
			continue
		}
		if best == -1 || count[node] < min {
			best, min = node, count[node]
		}
	}
	if best == -1 {
		return false
	}
	if p := s.pnn[i]; p >= 0 {
		count[p]--
	}
	s.pnn[i] = best
	count[best]++
	return true
}

// basicAllocateUnassigned walks the list once and gives each unassigned address to the
// least-loaded node that may take it.
func (s *state) basicAllocateUnassigned(count []int) {
	for i, p := range s.pnn {
		if p == -1 {
			s.findTakeoverNode(i, count)
		}
	}
}

// deterministic is CTDB's "deterministic IPs": address i of the list is first placed on
// node i mod N, whatever held it before; addresses that node cannot host go to the
// least-loaded node that may take them. NoIPFailback is ignored (CTDB only warns).
func (s *state) deterministic() {
	if s.n == 0 {
		return
	}
	for i := range s.pnn {
		s.pnn[i] = i % s.n
	}
	s.unassignUnsuitable()
	s.basicAllocateUnassigned(s.coverage())
}

// nonDeterministic is CTDB's basic allocation with basic failback.
func (s *state) nonDeterministic() {
	s.unassignUnsuitable()
	count := s.coverage()
	s.basicAllocateUnassigned(count)
	if s.noFailback {
		return
	}
	s.basicFailback(count)
}

// basicFailback evens out the number of addresses per node as CTDB does: scanning the
// list, for the first held address whose possible takers differ by more than one in load,
// the first address (in list order) of the most-loaded such taker is handed to the
// least-loaded taker of that address, and the scan restarts; at most len(list)+5 such
// moves happen in one run.
func (s *state) basicFailback(count []int) {
	retries := 0
	limit := len(s.ips) + 5
again:
	for i, p := range s.pnn {
		if p == -1 {
			continue
		}
		maxNode, maxNum, minNum := -1, 0, 0
		for node := range s.n {
			if !s.canTakeover(i, node) {
				continue
			}
			num := count[node]
			if maxNode == -1 {
				maxNode, maxNum, minNum = node, num, num
				continue
			}
			if num > maxNum {
				maxNode, maxNum = node, num
			}
			if num < minNum {
				minNum = num
			}
		}
		if maxNode == -1 || maxNum <= minNum+1 || retries >= limit {
			continue
		}
		for j, q := range s.pnn {
			if q == maxNode {
				s.findTakeoverNode(j, count)
				retries++
				goto again
			}
		}
	}
}
