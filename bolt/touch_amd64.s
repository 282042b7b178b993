//go:build !verso_notouch

#include "textflag.h"

// func touch(addr uintptr)
TEXT ·touch(SB), NOSPLIT, $0-8
	MOVQ addr+0(FP), AX
	PREFETCHT0 (AX)
	RET
