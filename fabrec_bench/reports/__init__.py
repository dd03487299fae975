"""What results become: leaderboard rows and their labels (leaderboard), the HTML page (html), plots (plots)
and the cited table of published results (reference, reference_results.toml)."""
