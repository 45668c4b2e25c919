/** The app's root, loaded by the entry (main.ts): one query client (no retries of 4xx answers), then the app. */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { retryServerErrors } from './api.ts';
import { App } from './app.tsx';

const queryClient = new QueryClient({
  defaultOptions: {
    queries: { retry: retryServerErrors, staleTime: 5_000, refetchOnWindowFocus: true },
    mutations: { retry: false },
  },
});

createRoot(document.getElementById('root') as HTMLElement).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <App />
    </QueryClientProvider>
  </StrictMode>,
);
