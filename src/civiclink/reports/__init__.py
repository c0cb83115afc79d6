"""Reports (issue 6, parts 2 and 4): the holiday or daily report like the seed's (page, Excel, PDF) and the topic
daily reports (专题日报) with their zero days (零报告). See docs/reports.md."""
