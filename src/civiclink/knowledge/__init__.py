"""知识库 (R-901..R-905): items that let an operator answer at intake (直接办结) and explain 12345/110 boundaries."""
