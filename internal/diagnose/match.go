package diagnose

// A multi-pattern matcher (Aho–Corasick) over the cleaned log. Pasted logs can
// be megabytes of progress bars and repeated errors, and the catalog has about
// a hundred signatures: one automaton pass keeps diagnosis linear in the
// input, however many signatures we add.

// matcher is a complete DFA: next[state*nclass+class] is defined for every
// state and class, so scanning is one table lookup per byte.
type matcher struct {
	class  [256]uint8 // byte -> class; ASCII letters fold to lower case, 0 = "not in any pattern"
	nclass int
	next   []int32
	out    [][]int32 // pattern indexes that end in a state, suffix outputs included
	hasOut []bool    // len(out[state]) > 0, for the scanning loop (state.line)
	lens   []int     // pattern lengths in bytes
}

func lower(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

func newMatcher(patterns []string) *matcher {
	m := &matcher{nclass: 1}
	for _, p := range patterns {
		for i := 0; i < len(p); i++ {
			c := lower(p[i])
			if m.class[c] == 0 {
				if m.nclass == 255 {
					panic("diagnose: too many distinct pattern bytes")
				}
				m.class[c] = uint8(m.nclass)
				m.nclass++
			}
		}
	}
	for b := 'A'; b <= 'Z'; b++ {
		m.class[b] = m.class[b+'a'-'A']
	}
	// Trie.
	type node struct {
		child []int32
		fail  int32
		out   []int32
	}
	nodes := []node{{child: make([]int32, m.nclass)}}
	for i := range nodes[0].child {
		nodes[0].child[i] = -1
	}
	m.lens = make([]int, len(patterns))
	for pi, p := range patterns {
		m.lens[pi] = len(p)
		s := int32(0)
		for i := 0; i < len(p); i++ {
			c := m.class[p[i]]
			if nodes[s].child[c] < 0 {
				n := node{child: make([]int32, m.nclass)}
				for j := range n.child {
					n.child[j] = -1
				}
				nodes = append(nodes, n)
				nodes[s].child[c] = int32(len(nodes) - 1)
			}
			s = nodes[s].child[c]
		}
		nodes[s].out = append(nodes[s].out, int32(pi))
	}
	// Breadth-first: failure links and completed transitions.
	queue := make([]int32, 0, len(nodes))
	for c := 0; c < m.nclass; c++ {
		if t := nodes[0].child[c]; t < 0 {
			nodes[0].child[c] = 0
		} else {
			nodes[t].fail = 0
			queue = append(queue, t)
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		f := nodes[s].fail
		nodes[s].out = append(nodes[s].out, nodes[f].out...)
		for c := 0; c < m.nclass; c++ {
			t := nodes[s].child[c]
			if t < 0 {
				nodes[s].child[c] = nodes[f].child[c]
				continue
			}
			nodes[t].fail = nodes[f].child[c]
			queue = append(queue, t)
		}
	}
	m.next = make([]int32, len(nodes)*m.nclass)
	m.out = make([][]int32, len(nodes))
	m.hasOut = make([]bool, len(nodes))
	for i, n := range nodes {
		copy(m.next[i*m.nclass:], n.child)
		m.out[i] = n.out
		m.hasOut[i] = len(n.out) > 0
	}
	return m
}
