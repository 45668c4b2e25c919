/** The web console's entry: one query client (no retries of 4xx answers), then the app. */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { retryServerErrors } from './api.ts';
import { App } from './app.tsx';
import { boardProjectOf, boardQuery } from './board-query.ts';
import './styles.css';

const queryClient = new QueryClient({
  defaultOptions: {
    queries: { retry: retryServerErrors, staleTime: 5_000, refetchOnWindowFocus: true },
    mutations: { retry: false },
  },
});

// Opened on a board (the page most people open most): ask for the board and fetch its code now, beside /me.
const boardProject = boardProjectOf(window.location.pathname);
if (boardProject !== undefined) {
  void import('./pages/board.tsx');
  void queryClient.prefetchQuery(boardQuery(boardProject));
}

createRoot(document.getElementById('root') as HTMLElement).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <App />
    </QueryClientProvider>
  </StrictMode>,
);
