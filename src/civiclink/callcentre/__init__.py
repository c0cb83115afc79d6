"""Call centre (issue 7; R-606, R-801..805, anchors §6): calls, Erlang C/A staffing and the 四班三运转 roster."""
