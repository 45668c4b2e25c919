/**
 * The console's entry, kept tiny so it runs as soon as the HTML is parsed: start /me (and, opened on a board, the
 * board's answer and its code), then load the app. index.html already preloads the app's and the board's chunks
 * (web/vite.config.ts), so they arrive beside the API's answers instead of after them.
 */
import { boardPath, boardProjectOf } from './board-query.ts';
import { startEarly } from './early.ts';
import './styles.css';

startEarly('/api/v1/me');
const boardProject = boardProjectOf(window.location.pathname);
if (boardProject !== undefined) {
  startEarly(boardPath(boardProject));
  void import('./pages/board.tsx');
}
void import('./root.tsx');
