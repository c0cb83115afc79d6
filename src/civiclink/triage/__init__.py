"""智能分类 (design §7): route, urgency, request type, category and department, 属地, duplicates and
knowledge-base answers for each request, with confidences and the cues behind them."""
